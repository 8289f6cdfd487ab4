"""Seeded synthetic landing zone with a planted truth (see `generator.generate_landing`)."""
