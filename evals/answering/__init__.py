"""Answering evaluations: open-book SQuAD, unanswerable questions, readers and claims."""
