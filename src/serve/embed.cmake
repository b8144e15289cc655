# Embeds a file as a C array: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
file(WRITE ${OUT} "/* Generated from ${IN} by src/serve/embed.cmake; do not edit. */\n"
     "#include \"serve_int.h\"\n"
     "const char ${NAME}[] = {${arr} 0x00};\n"
     "const size_t ${NAME}_len = ${bytes};\n")
