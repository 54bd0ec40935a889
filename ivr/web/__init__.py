"""HTTP plumbing the routes of every edge share: what a route takes from the application,
request limits, and the health routes."""
