// recur-demo: the seed tutorial's notebook, cell by cell (see notebook.cpp, which
// `recur demo` runs too).
#include "notebook.hpp"

int main() { return recur_examples::seed_notebook(); }
