package a // util
