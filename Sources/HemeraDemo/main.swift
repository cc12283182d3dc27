print("hemera-demo: not yet implemented")
