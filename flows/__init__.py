"""Prefect flows, kept thin: each task wraps one service call and a flow only orders the tasks.

Services (everything under ``itpm/``) never import Prefect; they are tested directly.
"""
