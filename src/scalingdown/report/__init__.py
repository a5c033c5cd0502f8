"""Building the experiment report: tables, plots and the markdown document."""
