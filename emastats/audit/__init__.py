"""emastats audit: find the mathematical errors in course notes."""
