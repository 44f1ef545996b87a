# what: a correct notebook whose last cell raises an exception with a lone surrogate in its message: graded and recorded whole
# expected: 10
# flag: none
# %% extra
raise ValueError("l\udcffi \ud800 của em")
