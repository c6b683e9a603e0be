# Copyright (c) 2026, cc_sync contributors and Contributors
# See license.txt

# import frappe
from frappe.tests.utils import FrappeTestCase


class TestConstantContactSettings(FrappeTestCase):
	pass
