// The HemeraNATS module.
