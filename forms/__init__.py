"""Domain: the form definition language, submission validation, the render model for clients."""
