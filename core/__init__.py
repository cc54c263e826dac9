"""DefectSort core: pure Python + torch. Never imports Qt or gui."""
