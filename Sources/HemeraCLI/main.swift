print("hemera: not yet implemented")
