"""What the pages share: sidebar, session, turns, history entries and how they are drawn."""
