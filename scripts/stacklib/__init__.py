"""stacklib: helpers of scripts/stack.py that the integration tests share (see procs.py)."""
