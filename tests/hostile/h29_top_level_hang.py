# what: a top-level cell that ignores every signal and never ends: the notebook cannot run, 0 points
# expected: 0
# flag: infinite loop
# %% extra-first
import signal
for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
while True:
    try:
        pass
    except BaseException:
        pass
