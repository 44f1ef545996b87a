# what: installs an IPython AST transformer that turns every assert into pass, plus a fake course_grader
# expected: 3
# flag: IPython hooks
# %% extra-first
import ast, sys, types

class NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()

ip = get_ipython()
ip.ast_transformers.append(NoAsserts())
fake = types.ModuleType("course_grader.cases")
fake.check = lambda *a, **k: None
sys.modules["course_grader"] = types.ModuleType("course_grader")
sys.modules["course_grader.cases"] = fake
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    import torch
    return torch.zeros(1)
