# Writes OUT: a C file defining `const char df_sql_<name>[]` for each .sql file in FILES
# ('|'-separated paths).
string(REPLACE "|" ";" FILES "${FILES}")
set(body "/* generated from the store/sqlite/ SQL files by store/sqlite/embed_sql.cmake; do not edit */\n")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  string(REPLACE "\n" "\\n\"\n\"" text "${text}")
  string(APPEND body "const char df_sql_${name}[] = \"${text}\";\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
