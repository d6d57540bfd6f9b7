module early.roomcast/locale

go 1.26.8
