/* SPDX-License-Identifier: BSD-2-Clause */
/* files: the template of a new application, app/scaffold/template/ as compiled into the
 * binary by scripts/embed.py (build/gen/scaffold_files.c). */
#ifndef MR_SCAFFOLD_FILES_H
#define MR_SCAFFOLD_FILES_H

struct mr_scaffold_file {
    const char *path; /* relative, '/'-separated */
    int mode;
    const char *text; /* with @NAME@, @DIR@, @PORT@ and @USER@ to fill in */
};

extern const struct mr_scaffold_file mr_scaffold_files[];
extern const int mr_scaffold_n_files;

#endif
