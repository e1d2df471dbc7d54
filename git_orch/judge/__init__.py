"""Judging a task's work: pathspecs, trailers, evidence, review, accept and CI verify."""
