// The HemeraTesting module.
