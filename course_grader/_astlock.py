"""One lock for every ``ast`` call on the trusted side: CPython 3.11's parser is not safe in threads."""
import threading

AST_LOCK = threading.RLock()
