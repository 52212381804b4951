"""The Kubernetes control plane as pure state-transition functions over immutable values."""
