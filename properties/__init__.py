"""What must hold of the model, and the engines that search for violations."""
