# what: pastes the instructor's notebook back, solution markers included (what nbgrader collect copies from a link to solutions/): 0, flagged, no solution in its feedback
# expected: 0
# flag: solution notebook submitted
# %% replace relu
def relu(x):
    ### BEGIN SOLUTION
    return x.clamp(min=0)
    ### END SOLUTION
