/*
 * antifraud - time: local time in a named time zone, calendars (business
 * hours per weekday, workdays, holidays) and time-of-day slots with limits.
 *
 * glibc knows one time zone per process (TZ), so a zone's UTC offsets are
 * computed once, when the rules load, with glibc's own tz code reading the
 * system's tzdata (/usr/share/zoneinfo, or $TZDIR): a table of offset
 * changes from a day before the load to AF_TZ_YEARS after it. Lookups are
 * a binary search in that table: no allocation, no global state, any
 * process. Past the table's end the last offset stays (reload the rules
 * once in AF_TZ_YEARS years, or after a tzdata update).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_SCHED_H
#define AF_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include "af_arena.h"
#include "af_yaml.h"

#define AF_TZ_YEARS 10

typedef struct af_tz af_tz_t;

/*
 * The zone name ("Europe/Berlin", "UTC", "America/New_York"): a TZif file
 * of the system's tzdata; anything else (a typo, a POSIX rule string, a
 * path) is refused with a message. The table covers from now_ms - 1 day
 * to AF_TZ_YEARS years after. Returns the zone in arena a, or NULL with a
 * message in err.
 */
af_tz_t *af_tz_load(af_arena_t *a, const char *name, uint64_t now_ms,
		char *err, size_t errlen);

const char *af_tz_name(const af_tz_t *tz);

/* a moment in local time */
typedef struct af_local {
	int32_t offset_s; /* local - UTC */
	uint16_t year;
	uint8_t month;    /* 1..12 */
	uint8_t day;      /* 1..31 */
	uint8_t wday;     /* 0 Sunday .. 6 Saturday */
	uint16_t minute;  /* of the day, 0..1439 */
	uint32_t date;    /* year * 10000 + month * 100 + day */
} af_local_t;

/* local time of now_ms (ms since the epoch) in tz */
void af_tz_local(const af_tz_t *tz, uint64_t now_ms, af_local_t *out);

/* a range of minutes of the day, [from, to); to < from crosses midnight;
 * from == to: the whole day */
typedef struct af_minrange {
	uint16_t from;
	uint16_t to;
} af_minrange_t;

/*
 * A calendar, read from YAML:
 *
 *   timezone: Europe/Berlin          # required
 *   workdays: [mon, tue, wed, thu, fri]   # default mon..fri
 *   hours:                           # business hours; default: none
 *     mon-fri: ["08:00-12:30", "13:30-18:00"]
 *     sat: "09:00-13:00"
 *   holidays: ["2026-12-25", "12-26", "01-01"]  # dates; MM-DD every year
 *
 * Weekday keys: sun mon tue wed thu fri sat, or a range "mon-fri" (a
 * range may wrap: "fri-mon"); a weekday named twice is an error. Times
 * are "HH:MM" 00:00..24:00; a range that crosses midnight ("22:00-06:00")
 * belongs to the day it starts on and runs into the next morning.
 *
 * A day is a holiday when its date is listed, or it is not a workday. A
 * holiday has no business hours of its own (a range started the evening
 * before still runs into it).
 */
typedef struct af_calendar {
	const char *name;
	const af_tz_t *tz;
	uint8_t workdays;             /* bit (1 << wday) */
	af_minrange_t *hours[7];      /* per wday */
	uint32_t n_hours[7];
	uint32_t *dates;              /* YYYYMMDD, sorted */
	uint32_t n_dates;
	uint16_t *yearly;             /* MMDD, sorted */
	uint32_t n_yearly;
} af_calendar_t;

/*
 * Reads calendar node n (a mapping as above) into out, in c's arena,
 * with errors "file:line: key.path: message" through c. now_ms is for
 * the zone's table. Returns 0 or -1.
 */
int af_cal_parse(af_yl_t *c, const yaml_node_t *n, uint64_t now_ms,
		af_calendar_t *out);

/* 1 when the day of lt is a holiday (listed date or not a workday) */
int af_cal_holiday(const af_calendar_t *cal, const af_local_t *lt);

/* 1 when lt is inside business hours (see the rules above) */
int af_cal_in_hours(const af_calendar_t *cal, const af_local_t *lt);

/*
 * Limits per time-of-day slot, read from YAML as a mapping of ranges to
 * limits, plus an optional "default" (no limit when absent):
 *
 *   { "08:00-18:00": 20, "18:00-08:00": 5 }
 *   { default: 10, "00:00-06:00": 2 }
 *
 * Ranges must not overlap. The limit of a minute is that of the range
 * containing it, else the default.
 */
typedef struct af_slot {
	af_minrange_t r;
	uint32_t limit;
} af_slot_t;

typedef struct af_slots {
	af_slot_t *slot;
	uint32_t n;
	uint32_t dflt; /* AF_NO_LIMIT: none */
} af_slots_t;

#define AF_NO_LIMIT UINT32_MAX

int af_slots_parse(af_yl_t *c, const yaml_node_t *n, af_slots_t *out);

/* the limit at minute of the day (AF_NO_LIMIT: none) */
uint32_t af_slots_limit(const af_slots_t *s, uint16_t minute);

/* parses "HH:MM-HH:MM" (HH:MM 00:00..24:00); 0 or -1 */
int af_minrange_parse(const char *s, size_t len, af_minrange_t *out);

/* 1 when minute is in r */
int af_minrange_has(const af_minrange_t *r, uint16_t minute);

#endif
