"""course_grader: the hidden tests of the course's exercises and the tools that grade them.

:mod:`course_grader.cases` is the single source of the hidden test cases: every
autograded test cell of ``solutions/<id>/<id>.ipynb`` ends with
``from course_grader.cases import check`` / ``check("<grade_id>", globals())``.
"""
