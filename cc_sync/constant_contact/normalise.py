"""Values CC rewrites when it stores them, so a value read back can differ from the one written.

Seen in recorded CC traffic: a street address written with state `CA` and country `US` reads back as
`California` and `United States`. Anything that compares a site value with CC's copy (to decide whether
to write or push) compares in CC's form, or the two sides disagree for ever and the field ping-pongs.
Only what was seen is rewritten; any other value is kept as given.
"""

from __future__ import annotations

from typing import Any

US_STATES = {
	"AL": "Alabama",
	"AK": "Alaska",
	"AZ": "Arizona",
	"AR": "Arkansas",
	"CA": "California",
	"CO": "Colorado",
	"CT": "Connecticut",
	"DE": "Delaware",
	"DC": "District of Columbia",
	"FL": "Florida",
	"GA": "Georgia",
	"HI": "Hawaii",
	"ID": "Idaho",
	"IL": "Illinois",
	"IN": "Indiana",
	"IA": "Iowa",
	"KS": "Kansas",
	"KY": "Kentucky",
	"LA": "Louisiana",
	"ME": "Maine",
	"MD": "Maryland",
	"MA": "Massachusetts",
	"MI": "Michigan",
	"MN": "Minnesota",
	"MS": "Mississippi",
	"MO": "Missouri",
	"MT": "Montana",
	"NE": "Nebraska",
	"NV": "Nevada",
	"NH": "New Hampshire",
	"NJ": "New Jersey",
	"NM": "New Mexico",
	"NY": "New York",
	"NC": "North Carolina",
	"ND": "North Dakota",
	"OH": "Ohio",
	"OK": "Oklahoma",
	"OR": "Oregon",
	"PA": "Pennsylvania",
	"RI": "Rhode Island",
	"SC": "South Carolina",
	"SD": "South Dakota",
	"TN": "Tennessee",
	"TX": "Texas",
	"UT": "Utah",
	"VT": "Vermont",
	"VA": "Virginia",
	"WA": "Washington",
	"WV": "West Virginia",
	"WI": "Wisconsin",
	"WY": "Wyoming",
}
COUNTRIES = {"US": "United States", "USA": "United States"}


def cc_state(value: Any) -> Any:
	"""A US state code as CC stores it (`CA` becomes `California`); other values unchanged."""
	if isinstance(value, str):
		return US_STATES.get(value.strip().upper(), value)
	return value


def cc_country(value: Any) -> Any:
	"""A country code as CC stores it (`US` becomes `United States`); other values unchanged."""
	if isinstance(value, str):
		return COUNTRIES.get(value.strip().upper(), value)
	return value


def cc_address_part(part: str, value: Any) -> Any:
	"""One street-address part (`state`, `country`, ...) in the form CC stores it."""
	if part == "state":
		return cc_state(value)
	if part == "country":
		return cc_country(value)
	return value
