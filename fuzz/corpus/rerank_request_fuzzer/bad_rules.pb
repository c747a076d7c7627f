
a
bRB
aB
b