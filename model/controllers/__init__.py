"""The controllers of kube-controller-manager, the scheduler and the kubelet, as components."""
