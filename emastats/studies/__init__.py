"""Empirical studies: SGD noise, clipping bias, temperature, Adam batch coupling."""
