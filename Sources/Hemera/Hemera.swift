// The Hemera module.
