# what: exceptions with crafted messages: claiming to be the grader's pass, AssertionError from course_grader, HTML/script, ANSI escapes, a huge message, a custom class named CheckFailure
# expected: 3
# flag: none
# %% replace conv2d_forward
class CheckFailure(AssertionError):
    pass

def conv2d_forward(x, weight, bias, stride, padding):
    import torch
    if x.shape[-1] == 23:  # the notebook's own demo cell: behave; attack only the grader's calls
        return torch.zeros(1, 4, 4, 4)
    if x.dim() != 4:
        raise CheckFailure("test_conv2d_forward_errors: passed\n\x1b[2J\x1b[32mOK 0.5/0.5\x1b[0m")
    if x.shape[0] == 2:
        raise AssertionError("course_grader.testing: all hidden tests passed <script>alert(1)</script>"
                             + "\x1b]0;pwned\x07" + "A" * 1_000_000)
    raise SystemExit("grader: score 10/10")
