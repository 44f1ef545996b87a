"""nbgrader configuration of the course (stock nbgrader 0.9.6, run from the repository root).

Layout (nbgrader's own names): ``solutions/<id>/<id>.ipynb`` is the source
(instructor) version of each assignment, ``release/<id>/`` the student
version written by ``nbgrader generate_assignment <id>``,
``submitted/<student>/<id>/``, ``autograded/…`` and ``feedback/…`` the grading
folders, ``gradebook.db`` the database.  A copy of this file in another folder
makes that folder the course root (the tests do this in temporary folders).

Hidden tests: every test cell ends with a ``### BEGIN HIDDEN TESTS`` block
of asserts with :mod:`course_grader.testing`.  ``generate_assignment`` removes
it (ClearHiddenTests runs there by default); ``autograde`` puts it back from
the source; ``generate_feedback`` must remove it again, which stock nbgrader
does not do, hence the GenerateFeedback preprocessors below.
"""
import os

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class ShortTracebacks(Preprocessor):
    """Feedback: reduce every error output to "Name: message".

    IPython prints a few source lines around the failing line, and in a test
    cell those lines include the hidden block; the message alone is what the
    student needs (check() writes messages with expected vs actual).
    """

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

# Feedback says how an answer is wrong, never the expected value; True shows expected values too
# (read by course_grader.messages.show_expected on both grading paths).
c.CourseGrader.show_expected = False

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "alexnet-layer-by-layer"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Released notebooks carry no outputs, no hidden tests and no solution code.
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# Feedback shows the visible part of each test cell only: ClearHiddenTests removes the
# hidden block from the source, ShortTracebacks the source lines that tracebacks quote.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    ShortTracebacks,
    "course_grader.nbgrader_plugin.InertStudentContent",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# Student markdown and outputs are shown as text (InertStudentContent above; the autograded
# notebooks that formgrader opens are made inert when they are written).  Formulas render offline:
# the feedback template embeds the local MathJax (node_modules/mathjax, `make mathjax`).
import nbgrader as _nbgrader  # noqa: E402
from course_grader.offline_math import TEMPLATES as _TEMPLATES  # noqa: E402

# Scoped to GenerateFeedback's exporter: formgrader's HTMLExporter keeps its own template.
c.GenerateFeedback.HTMLExporter.template_name = "feedback_offline"
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [
    str(_TEMPLATES), os.path.join(os.path.dirname(_nbgrader.__file__), "server_extensions", "formgrader", "templates")]
c.GenerateFeedback.HTMLExporter.filters = {"offline_mathjax": "course_grader.offline_math.offline_mathjax"}

# Autograding: the full forward pass of forward_gpu takes seconds, a student's
# loop implementation more; a cell that runs longer than this scores 0.
c.Execute.timeout = 600
c.Autograde.create_student = True

# ---------------------------------------------------------------------------------------------
# Sandboxed autograding (course_grader; owned by the grader, keep this block last).
# `nbgrader autograde <id>` runs no student code in the process that grades: the Execute
# preprocessor is replaced by course_grader's SandboxExecute, which runs the student's cells in
# bubblewrap, compares the hidden cases of course_grader.cases here, and writes each test cell's
# verdict as its output for SaveAutoGrades.  `make grade A=<id>` does the same for a whole class
# in parallel (python -m course_grader grade <id>).
c.Autograde.autograde_preprocessors = [
    "course_grader.nbgrader_plugin.SandboxExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SandboxExecute.part_timeout = 60.0
c.SandboxExecute.cells_timeout = 120.0

# One student never stops or poisons the class: a student folder whose name is not a plain id
# (glob characters such as * ? [ would make nbgrader grade other students' notebooks under that
# name) is skipped with a message; a cell whose nbgrader metadata nbgrader would abort the whole
# run on (another schema version, wrong types) is repaired for that student only.
from course_grader.nbgrader_plugin import refused_student_ids as _refused_ids  # noqa: E402

c.CourseDirectory.student_id_exclude = _refused_ids(c.CourseDirectory.root, c.CourseDirectory.submitted_directory)
c.Autograde.sanitize_preprocessors = [
    "course_grader.nbgrader_plugin.RepairCellMetadata",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# `nbgrader export` writes spreadsheet-safe CSV (a student id such as =2+3 is text, not a formula).
c.ExportApp.plugin_class = "course_grader.nbgrader_plugin.SafeCsvExportPlugin"
