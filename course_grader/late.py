"""Late-submission penalties on the course grader's path, exactly as ``nbgrader autograde`` assigns them.

nbgrader's ``AssignLatePenalties`` preprocessor builds the plugin named by
``c.AssignLatePenalties.plugin_class`` (``LateSubmissionPlugin`` unless the
course's ``nbgrader_config.py`` names another) with the course configuration,
asks it for a penalty when the submission is past its due date, and clamps the
answer to ``[0, notebook score]``.  :class:`LatePolicy` uses that same
preprocessor class, configured from the same file, so ``python -m course_grader
grade`` and ``nbgrader autograde`` write the same ``late_submission_penalty``.
"""
from __future__ import annotations

import logging


class LatePolicy:
    """The configured late-submission plugin of one course (built once per run)."""

    def __init__(self, config=None, log: logging.Logger | None = None):
        from nbgrader.preprocessors import AssignLatePenalties
        kwargs = {"config": config} if config is not None else {}
        self._pp = AssignLatePenalties(**kwargs)
        if log is not None:
            self._pp.log = log
        self._pp.init_plugin()

    @property
    def plugin(self):
        return self._pp.plugin_inst

    def penalty(self, student: str, notebook, seconds_late: float) -> float | None:
        """nbgrader's penalty for one submitted notebook (``None``: not late, or no penalty)."""
        if seconds_late <= 0:
            return None
        value = self.plugin.late_submission_penalty(student, notebook.score, seconds_late)
        if value is None:
            return None
        return self._pp._check_late_penalty(notebook, float(value))

    def apply(self, gb, assignment: str, student: str, notebook_id: str) -> float | None:
        """Write the penalty of one submission in the open gradebook session (not committed here).

        Call it after the notebook's grades are set: the plugin sees the score they add up to.
        """
        sub = gb.find_submission(assignment, student)
        nb = gb.find_submission_notebook(notebook_id, assignment, student)
        gb.db.flush()
        gb.db.expire(nb)  # score and late_submission_penalty are SQL expressions over the new grades
        gb.db.expire(sub)
        nb.late_submission_penalty = None
        nb.late_submission_penalty = self.penalty(student, nb, sub.total_seconds_late)
        return nb.late_submission_penalty


def load(layout) -> LatePolicy:
    """The policy of the course at ``layout`` (its whole ``nbgrader_config.py``; defaults without one)."""
    log = logging.getLogger("course_grader.late")
    log.setLevel(logging.ERROR)
    return LatePolicy(layout.full_config(), log)
