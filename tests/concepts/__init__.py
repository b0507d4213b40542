"""Tests of xplique.concepts."""
