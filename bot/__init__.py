"""Passaparola: a multilingual outreach chatbot for migrants and refugees."""
