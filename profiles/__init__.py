"""Enterprises, people, memberships, licences, matters, reminders and the data standards."""
