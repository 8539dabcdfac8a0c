"""End-to-end tests: the whole pipeline from simulated plants to partners (issue 9)."""
