"""Notices, policies, targeting rules, inbox state, read receipts and the audit log."""
