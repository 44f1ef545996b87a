"""course_grader: the hidden tests of the course's exercises and the tools that grade them.

:mod:`course_grader.testing` is what an instructor's hidden tests call: every
autograded test cell of ``solutions/<id>/<id>.ipynb`` ends with a
``### BEGIN HIDDEN TESTS`` block of plain asserts with its helpers (shared
inputs in :mod:`course_grader.exercise_inputs`), run in the student's kernel by
stock nbgrader and on the trusted side by :mod:`course_grader.testrun`.
"""
