"""The kanban board by stage: columns, cards, drag and the Move-to menu."""
