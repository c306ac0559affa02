"""Independent reference implementations the tests check the product against."""
