"""HTTP edge: routes, auth, errors, OpenAPI, streams and the static kiosk/console pages."""
