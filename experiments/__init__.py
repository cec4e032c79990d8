"""Monte Carlo experiment definitions, one module per topic."""
