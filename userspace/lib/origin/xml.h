/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The text of a few elements of an S3 or STS response body, read with expat.
 *
 * An element is named by the local names on its way from the root,
 * "Error/Code".  Namespaces are resolved, then ignored: <Code>, <s3:Code>
 * and <Code xmlns="..."> are the same element (S3 answers without a
 * namespace, STS and S3 listings with one).  The first such element wins;
 * its text is its own character data, entity and character references
 * (&amp;, &#233;) and CDATA decoded, without the text of elements nested in
 * it.  Bodies with a DTD (<!DOCTYPE ...>) are refused before its first
 * declaration is read: no entity is ever declared, expanded or fetched.
 * Expat's buffers are wiped before they are freed, as the bodies carry
 * secrets (an STS answer's SecretAccessKey and SessionToken).
 */
#ifndef RCACHE_XML_H
#define RCACHE_XML_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of a body read at most; the rest is treated as cut off. */
#define RC_XML_MAX_BODY		(1u << 20)
/* Elements asked for in one read, and names in one path, at most. */
#define RC_XML_MAX_WANT		8
#define RC_XML_MAX_DEPTH	8

struct rc_xml_want {
	const char *path;	/* "Error/Code" */
	char *out;		/* its text, NUL-terminated; "" when not found */
	size_t outlen;
	bool found;		/* the element was there */
	bool cut;		/* @out holds only the start of its text (longer
				   than outlen - 1, or the body ended inside it) */
};

/*
 * Fills each of @want[0..@n) from the XML @body of @len bytes.  @whole: the
 * body is complete; else it is the start of a longer one (an element still
 * open at its end is reported with ->cut).  0, or -EBADMSG with @why saying
 * what is wrong (never the body's text) and every ->out wiped; -EINVAL for
 * a bad @want.
 */
int rc_xml_read(const char *body, size_t len, bool whole, struct rc_xml_want *want, size_t n,
		char *why, size_t whylen);

/*
 * Element text @s for an error message: control characters as spaces, cut
 * to fit @out (@outlen >= 4) on a character boundary, "..." at the end when
 * it was cut here or before (@cut).
 */
void rc_xml_one_line(char *out, size_t outlen, const char *s, bool cut);

#endif
