"""z3 over the model: proofs about the scheduler's plugins and placement queries."""
