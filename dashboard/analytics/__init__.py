"""The metric definitions of design.md, once, as plain query functions.

Pages and the JSON API both call these, so the two can never disagree. Each
function takes a ``Scope`` (project, window, branch, job) and returns small
dataclasses; none touches a request or a template.
"""
