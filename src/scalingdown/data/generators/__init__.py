"""The built-in generators of financial data: sentiment sentences and questions, from seeded templates."""
