"""Personal data protection: masking of contact data (names, emails, phones)."""
